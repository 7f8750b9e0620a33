/**
 * Every string the hosted pages show, in each language they speak. English is the reference: every other language
 * has exactly its keys (the type says so, and test/pages/messages.test.ts checks the values). A page takes one
 * `Messages` object and never writes text of its own.
 */

const en = {
  languageName: "English",
  // The connect page and its link
  connectTitle: "Connect your accounts",
  connectingFor: (name: string) => `Connecting accounts for ${name}`,
  landingForName: (name: string) =>
    `This link was made for ${name}. If you are not ${name}, close this page: continuing would connect your accounts to someone else.`,
  landingForAnyone: "Only continue if you asked for this link yourself: continuing connects your accounts to whoever asked for it.",
  landingExplain: "Continue to see the accounts you can connect. The link then works in this browser only.",
  continue: "Continue",
  pageIntro: "Choose the accounts this application may use.",
  stateConnected: "Connected",
  stateNeedsReconnection: "Needs reconnection",
  stateNeedsPermissions: "Needs more permissions",
  stateNotConnected: "Not connected",
  stateUnavailable: "Not available at the moment",
  connect: (name: string) => `Connect ${name}`,
  reconnect: "Reconnect",
  reconnectLabel: (name: string, account: string) => `Reconnect ${name} (${account})`,
  disconnect: "Disconnect",
  disconnectLabel: (name: string, account: string) => `Disconnect ${name} (${account})`,
  done: "Done",
  // Results after a flow or a disconnection, on the connect page
  resultConnected: (account: string) => `Connected as ${account}.`,
  resultDisconnected: (name: string) => `${name} is disconnected.`,
  resultDisconnectFailed: (name: string) => `${name} could not be disconnected just now. Try again in a moment.`,
  resultDeclined: "You declined access. Nothing was connected.",
  resultTransient: (name: string) => `${name} could not finish connecting just now. Nothing was connected.`,
  tryAgain: "Try again",
  resultScopesMissing: (account: string) =>
    `Connected as ${account}, but without every permission that was asked for. Some features may not work until you reconnect and allow them.`,
  resultUntrusted: (name: string) => `The answer from ${name} could not be verified, so nothing was connected. Try again.`,
  resultRefused: (name: string, code: string) => `${name} did not allow the connection (${code}). Nothing was connected.`,
  // Pages that stand alone
  expiredTitle: "This link has expired",
  expiredBody: "Connect links work for 30 minutes. Go back to the application and open a new one.",
  elsewhereTitle: "This link is open in another browser",
  elsewhereBody:
    "A connect link works only in the browser where Continue was first pressed. If that was not you, do not connect anything here: go back to the application and open a new link.",
  doneTitle: "All set",
  doneBody: "You can close this window and return to the application.",
  forbiddenTitle: "This request was refused",
  forbiddenBody: "The form was not sent from this page. Open the page again and use its buttons.",
  badRequestTitle: "This request cannot be handled",
  badRequestBody: "Something in it is missing or not valid. Open the page again and use its buttons.",
  rateLimitedTitle: "Too many requests",
  rateLimitedBody: "Wait a minute, then try again.",
  errorTitle: "Something went wrong",
  errorBody: "Nothing was changed. Try again in a few minutes.",
  errorReference: (reference: string) => `If it keeps happening, tell the application's support this reference: ${reference}`,
  // The OAuth callback, for a person who lands on it without a return address
  callbackConnectedTitle: "Account connected",
  callbackConnected: (provider: string, account: string) => `${provider} is connected as ${account}.`,
  closeWindow: "You can close this window and return to the application.",
  startAgain: "To connect the account, start again from the application.",
  callbackInvalidStateTitle: "This sign-in cannot be completed",
  callbackInvalidState: "The sign-in link has expired, was already used, or was opened in another browser. Nothing was connected.",
  callbackDeclinedTitle: "You declined access",
  callbackDeclined: "Nothing was connected.",
  callbackTransientTitle: "The sign-in was not completed",
  callbackTransient: (provider: string) => `${provider} did not finish the sign-in. Nothing was connected; try again in a few minutes.`,
  callbackScopesMissingTitle: "Connected with fewer permissions",
  callbackScopesMissing: (provider: string, account: string) =>
    `${provider} is connected as ${account}, but without every permission that was asked for. Some features may not work until you connect again and allow them.`,
  callbackUntrustedTitle: "The sign-in could not be verified",
  callbackUntrusted: (provider: string) => `The answer from ${provider} could not be verified, so nothing was connected.`,
  callbackRefusedTitle: "The provider did not allow the connection",
  callbackRefused: (provider: string, code: string) => `${provider} answered "${code}". Nothing was connected.`,
};

/** The shape every language fills: the English keys, each a string or a function of the same parameters. */
export type Messages = { readonly [K in keyof typeof en]: (typeof en)[K] };

const de: Messages = {
  languageName: "Deutsch",
  connectTitle: "Konten verbinden",
  connectingFor: (name) => `Konten verbinden für ${name}`,
  landingForName: (name) =>
    `Dieser Link wurde für ${name} erstellt. Wenn Sie nicht ${name} sind, schließen Sie diese Seite: Wenn Sie fortfahren, verbinden Sie Ihre Konten mit jemand anderem.`,
  landingForAnyone:
    "Fahren Sie nur fort, wenn Sie diesen Link selbst angefordert haben: Ihre Konten werden mit dem verbunden, der ihn angefordert hat.",
  landingExplain: "Fahren Sie fort, um die Konten zu sehen, die Sie verbinden können. Der Link funktioniert danach nur in diesem Browser.",
  continue: "Weiter",
  pageIntro: "Wählen Sie die Konten, die diese Anwendung verwenden darf.",
  stateConnected: "Verbunden",
  stateNeedsReconnection: "Muss neu verbunden werden",
  stateNeedsPermissions: "Braucht weitere Berechtigungen",
  stateNotConnected: "Nicht verbunden",
  stateUnavailable: "Zurzeit nicht verfügbar",
  connect: (name) => `${name} verbinden`,
  reconnect: "Neu verbinden",
  reconnectLabel: (name, account) => `Neu verbinden: ${name} (${account})`,
  disconnect: "Trennen",
  disconnectLabel: (name, account) => `Trennen: ${name} (${account})`,
  done: "Fertig",
  resultConnected: (account) => `Verbunden als ${account}.`,
  resultDisconnected: (name) => `${name} ist getrennt.`,
  resultDisconnectFailed: (name) => `${name} konnte gerade nicht getrennt werden. Versuchen Sie es gleich noch einmal.`,
  resultDeclined: "Sie haben den Zugriff abgelehnt. Es wurde nichts verbunden.",
  resultTransient: (name) => `${name} konnte die Verbindung gerade nicht abschließen. Es wurde nichts verbunden.`,
  tryAgain: "Erneut versuchen",
  resultScopesMissing: (account) =>
    `Verbunden als ${account}, aber nicht mit allen angefragten Berechtigungen. Manche Funktionen gehen erst, wenn Sie neu verbinden und sie erlauben.`,
  resultUntrusted: (name) => `Die Antwort von ${name} ließ sich nicht prüfen, daher wurde nichts verbunden. Versuchen Sie es erneut.`,
  resultRefused: (name, code) => `${name} hat die Verbindung nicht erlaubt (${code}). Es wurde nichts verbunden.`,
  expiredTitle: "Dieser Link ist abgelaufen",
  expiredBody: "Verbindungslinks gelten 30 Minuten. Kehren Sie zur Anwendung zurück und öffnen Sie einen neuen.",
  elsewhereTitle: "Dieser Link ist in einem anderen Browser geöffnet",
  elsewhereBody:
    "Ein Verbindungslink funktioniert nur in dem Browser, in dem zuerst „Weiter“ gedrückt wurde. Wenn Sie das nicht waren, verbinden Sie hier nichts: Kehren Sie zur Anwendung zurück und öffnen Sie einen neuen Link.",
  doneTitle: "Alles erledigt",
  doneBody: "Sie können dieses Fenster schließen und zur Anwendung zurückkehren.",
  forbiddenTitle: "Diese Anfrage wurde abgelehnt",
  forbiddenBody: "Das Formular kam nicht von dieser Seite. Öffnen Sie die Seite erneut und verwenden Sie ihre Schaltflächen.",
  badRequestTitle: "Diese Anfrage kann nicht bearbeitet werden",
  badRequestBody: "Etwas darin fehlt oder ist ungültig. Öffnen Sie die Seite erneut und verwenden Sie ihre Schaltflächen.",
  rateLimitedTitle: "Zu viele Anfragen",
  rateLimitedBody: "Warten Sie eine Minute und versuchen Sie es dann erneut.",
  errorTitle: "Etwas ist schiefgegangen",
  errorBody: "Es wurde nichts geändert. Versuchen Sie es in ein paar Minuten erneut.",
  errorReference: (reference) => `Wenn es wieder passiert, nennen Sie dem Support der Anwendung diese Referenz: ${reference}`,
  callbackConnectedTitle: "Konto verbunden",
  callbackConnected: (provider, account) => `${provider} ist verbunden als ${account}.`,
  closeWindow: "Sie können dieses Fenster schließen und zur Anwendung zurückkehren.",
  startAgain: "Um das Konto zu verbinden, beginnen Sie erneut in der Anwendung.",
  callbackInvalidStateTitle: "Diese Anmeldung kann nicht abgeschlossen werden",
  callbackInvalidState:
    "Der Anmeldelink ist abgelaufen, wurde schon verwendet oder in einem anderen Browser geöffnet. Es wurde nichts verbunden.",
  callbackDeclinedTitle: "Sie haben den Zugriff abgelehnt",
  callbackDeclined: "Es wurde nichts verbunden.",
  callbackTransientTitle: "Die Anmeldung wurde nicht abgeschlossen",
  callbackTransient: (provider) =>
    `${provider} hat die Anmeldung nicht abgeschlossen. Es wurde nichts verbunden; versuchen Sie es in ein paar Minuten erneut.`,
  callbackScopesMissingTitle: "Mit weniger Berechtigungen verbunden",
  callbackScopesMissing: (provider, account) =>
    `${provider} ist verbunden als ${account}, aber nicht mit allen angefragten Berechtigungen. Manche Funktionen gehen erst, wenn Sie erneut verbinden und sie erlauben.`,
  callbackUntrustedTitle: "Die Anmeldung ließ sich nicht prüfen",
  callbackUntrusted: (provider) => `Die Antwort von ${provider} ließ sich nicht prüfen, daher wurde nichts verbunden.`,
  callbackRefusedTitle: "Der Anbieter hat die Verbindung nicht erlaubt",
  callbackRefused: (provider, code) => `${provider} hat „${code}“ geantwortet. Es wurde nichts verbunden.`,
};

/** The languages the pages speak, by primary language subtag (BCP 47); the first is the fallback. */
export const CATALOGUE = { en, de } as const satisfies Record<string, Messages>;

export type Language = keyof typeof CATALOGUE;

function isLanguage(tag: string): tag is Language {
  return Object.hasOwn(CATALOGUE, tag);
}

/** The primary subtag of a language tag (`de-CH` -> `de`), lower-cased. */
function primaryLanguage(tag: string): string {
  return tag.trim().split("-")[0]!.toLowerCase();
}

/** The best language of an `Accept-Language` header (RFC 9110 §12.5.4) that the pages speak, or `null`. */
function fromAcceptLanguage(header: string): Language | null {
  const ranked = header
    .split(",")
    .map((part, order) => {
      const [range = "", ...parameters] = part.split(";");
      const q = parameters.map((parameter) => /^\s*q=([01](?:\.\d{0,3})?)\s*$/.exec(parameter)?.[1]).find((value) => value !== undefined);
      return { language: primaryLanguage(range), q: q === undefined ? 1 : Number(q), order };
    })
    .filter((entry) => entry.q > 0 && isLanguage(entry.language))
    .sort((a, b) => b.q - a.q || a.order - b.order);
  return (ranked[0]?.language as Language | undefined) ?? null;
}

/**
 * The language of a page: the connect session's `locale` when the pages speak it, else the browser's preference,
 * else English.
 */
export function chooseLanguage(sessionLocale: string | null, acceptLanguage: string | undefined): Language {
  if (sessionLocale !== null) {
    const language = primaryLanguage(sessionLocale);
    if (isLanguage(language)) return language;
  }
  return (acceptLanguage && fromAcceptLanguage(acceptLanguage)) || "en";
}

export function messagesFor(language: Language): Messages {
  return CATALOGUE[language];
}
