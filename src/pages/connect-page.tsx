/** The connect page: each offer with its state and buttons, the last result, and "Done". */
import type { Offer, OfferedAccount } from "../connect-sessions/offers";
import type { PageResult } from "../connect-sessions/results";
import { Layout, renderDocument, type OpenerReport } from "./layout";
import type { Language, Messages } from "./messages";

export interface ConnectPageProps {
  language: Language;
  messages: Messages;
  sessionId: string;
  who: string | null;
  offers: readonly Offer[];
  result: PageResult | null;
  /** Where "Done" leads: the session's `return_to`, else the page that says the visit is over. */
  doneHref: string;
  opener: OpenerReport | null;
}

function resultText(messages: Messages, result: PageResult): string {
  switch (result.kind) {
    case "connected":
      return messages.resultConnected(result.account);
    case "scopes_missing":
      return messages.resultScopesMissing(result.account);
    case "disconnected":
      return messages.resultDisconnected(result.offer.name);
    case "disconnect_failed":
      return messages.resultDisconnectFailed(result.offer.name);
    case "declined":
      return messages.resultDeclined;
    case "transient":
      return messages.resultTransient(result.offer.providerName);
    case "untrusted":
      return messages.resultUntrusted(result.offer.providerName);
    case "refused":
      return messages.resultRefused(result.offer.providerName, result.error);
  }
}

function stateLabel(messages: Messages, state: OfferedAccount["state"]): string {
  switch (state) {
    case "connected":
      return messages.stateConnected;
    case "needs_reconnection":
      return messages.stateNeedsReconnection;
    case "needs_permissions":
      return messages.stateNeedsPermissions;
  }
}

/** A button that starts a flow for an offer (for one account, when it reconnects that account). */
function StartForm(props: {
  sessionId: string;
  offer: Offer;
  connectionId?: string;
  label: string;
  ariaLabel?: string;
  secondary?: boolean;
}) {
  return (
    <form method="post" action={`/connect/${props.sessionId}/start`}>
      <input type="hidden" name="offer" value={props.offer.key} />
      {props.connectionId && <input type="hidden" name="connection_id" value={props.connectionId} />}
      <button type="submit" class={props.secondary ? "secondary" : undefined} aria-label={props.ariaLabel}>
        {props.label}
      </button>
    </form>
  );
}

function ResultNotice({ messages, sessionId, result }: { messages: Messages; sessionId: string; result: PageResult }) {
  const problem = !["connected", "disconnected"].includes(result.kind);
  return (
    <div class={problem ? "result result-problem" : "result"} role="status">
      <p>{resultText(messages, result)}</p>
      {result.kind === "transient" && (
        <StartForm
          sessionId={sessionId}
          offer={result.offer}
          {...(result.retryConnectionId ? { connectionId: result.retryConnectionId } : {})}
          label={messages.tryAgain}
        />
      )}
    </div>
  );
}

function AccountRow({
  messages,
  sessionId,
  offer,
  account,
}: {
  messages: Messages;
  sessionId: string;
  offer: Offer;
  account: OfferedAccount;
}) {
  return (
    <li class="account">
      <span>
        <span class="account-name">{account.label}</span>{" "}
        <span class={`state state-${account.state}`}>{stateLabel(messages, account.state)}</span>
      </span>
      <span class="actions">
        {account.state !== "connected" && offer.available && (
          <StartForm
            sessionId={sessionId}
            offer={offer}
            connectionId={account.connectionId}
            label={messages.reconnect}
            ariaLabel={messages.reconnectLabel(offer.name, account.label)}
          />
        )}
        <form method="post" action={`/connect/${sessionId}/disconnect`}>
          <input type="hidden" name="offer" value={offer.key} />
          <input type="hidden" name="connection_id" value={account.connectionId} />
          <button type="submit" class="secondary" aria-label={messages.disconnectLabel(offer.name, account.label)}>
            {messages.disconnect}
          </button>
        </form>
      </span>
    </li>
  );
}

function OfferCard({ messages, sessionId, offer }: { messages: Messages; sessionId: string; offer: Offer }) {
  // A provider takes more accounts; an integration uses one, so it offers Connect only while it has none.
  const canConnect = offer.available && (offer.ref.kind === "provider" || offer.accounts.length === 0);
  return (
    <li class="offer">
      <div class="offer-head">
        <h2>{offer.name}</h2>
        {offer.accounts.length === 0 && (
          <span class={`state ${offer.available ? "state-not_connected" : "state-unavailable"}`}>
            {offer.available ? messages.stateNotConnected : messages.stateUnavailable}
          </span>
        )}
      </div>
      {offer.description && <p class="offer-description">{offer.description}</p>}
      {offer.accounts.length > 0 && (
        <ul class="accounts">
          {offer.accounts.map((account) => (
            <AccountRow messages={messages} sessionId={sessionId} offer={offer} account={account} />
          ))}
        </ul>
      )}
      {canConnect && (
        <div class="actions">
          <StartForm sessionId={sessionId} offer={offer} label={messages.connect(offer.name)} secondary={offer.accounts.length > 0} />
        </div>
      )}
    </li>
  );
}

export function renderConnectPage(props: ConnectPageProps): Promise<string> {
  const { messages, sessionId } = props;
  return renderDocument(
    <Layout language={props.language} title={messages.connectTitle} opener={props.opener}>
      <h1>{messages.connectTitle}</h1>
      {props.who && <p class="for">{messages.connectingFor(props.who)}</p>}
      <p class="muted">{messages.pageIntro}</p>
      {props.result && <ResultNotice messages={messages} sessionId={sessionId} result={props.result} />}
      <ul class="offers">
        {props.offers.map((offer) => (
          <OfferCard messages={messages} sessionId={sessionId} offer={offer} />
        ))}
      </ul>
      <p class="done">
        <a class="button" href={props.doneHref} data-done="">
          {messages.done}
        </a>
      </p>
    </Layout>,
  );
}
