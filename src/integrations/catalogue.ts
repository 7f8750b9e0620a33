import type { Config } from "../config";

/** An integration a user can activate: a feature of the application that needs some scopes of one provider. */
export interface Integration {
  key: string;
  provider: string;
  name: string;
  description: string;
  /** In the provider's normalised form. */
  scopes: readonly string[];
}

const GOOGLE_SCOPE = "https://www.googleapis.com/auth/";

/** The built-in catalogue; `OIDC_PROVIDERS` entries add their own. */
export const BUILT_IN_INTEGRATIONS: readonly Integration[] = [
  {
    key: "google-calendar",
    provider: "google",
    name: "Google Calendar",
    description: "Read and manage the events of your calendars.",
    scopes: [`${GOOGLE_SCOPE}calendar.events`],
  },
  {
    key: "gmail",
    provider: "google",
    name: "Gmail",
    description: "Read your mail and send mail on your behalf.",
    scopes: [`${GOOGLE_SCOPE}gmail.readonly`, `${GOOGLE_SCOPE}gmail.send`],
  },
  {
    key: "google-drive",
    provider: "google",
    name: "Google Drive",
    description: "Create files and open the files you choose.",
    scopes: [`${GOOGLE_SCOPE}drive.file`],
  },
  {
    key: "youtube",
    provider: "youtube",
    name: "YouTube",
    description: "See your channel and upload videos to it.",
    scopes: [`${GOOGLE_SCOPE}youtube.readonly`, `${GOOGLE_SCOPE}youtube.upload`],
  },
  {
    key: "outlook-mail",
    provider: "microsoft",
    name: "Outlook mail",
    description: "Read your mail and send mail on your behalf.",
    scopes: ["Mail.Read", "Mail.Send"],
  },
  {
    key: "outlook-calendar",
    provider: "microsoft",
    name: "Outlook calendar",
    description: "Read and manage the events of your calendars.",
    scopes: ["Calendars.ReadWrite"],
  },
  {
    key: "onedrive",
    provider: "microsoft",
    name: "OneDrive",
    description: "Read and write your files.",
    scopes: ["Files.ReadWrite"],
  },
  {
    key: "notion",
    provider: "notion",
    name: "Notion",
    description: "Read and update the pages you share with the application.",
    scopes: [],
  },
];

const catalogues = new WeakMap<Config, ReadonlyMap<string, Integration>>();

/** Built-in integrations followed by those the configured OIDC providers declare, by key. */
export function integrationCatalogue(config: Config): ReadonlyMap<string, Integration> {
  let catalogue = catalogues.get(config);
  if (!catalogue) {
    const declared = config.oidcProviders.flatMap((provider) =>
      provider.integrations.map((integration) => ({ ...integration, provider: provider.id })),
    );
    const byKey = new Map<string, Integration>();
    // A declared key may not replace a built-in one: the first definition wins.
    for (const integration of [...BUILT_IN_INTEGRATIONS, ...declared])
      if (!byKey.has(integration.key)) byKey.set(integration.key, integration);
    catalogue = byKey;
    catalogues.set(config, catalogue);
  }
  return catalogue;
}
