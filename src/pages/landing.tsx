/** What opening a connect link shows: whom it is for, and a Continue button that binds it to this browser. */
import { Layout, renderDocument } from "./layout";
import type { Language, Messages } from "./messages";

export interface LandingProps {
  language: Language;
  messages: Messages;
  /** The link's secret, posted back by Continue (it is already in this page's URL). */
  secret: string;
  /** The display name (or email) the application gave, so a person sent someone else's link can tell. */
  who: string | null;
}

export function renderLanding({ language, messages, secret, who }: LandingProps): Promise<string> {
  return renderDocument(
    <Layout language={language} title={messages.connectTitle}>
      <h1>{messages.connectTitle}</h1>
      {who && <p class="for">{messages.connectingFor(who)}</p>}
      <p>{who ? messages.landingForName(who) : messages.landingForAnyone}</p>
      <p class="muted">{messages.landingExplain}</p>
      <form method="post" action="/connect">
        <input type="hidden" name="session" value={secret} />
        <button type="submit">{messages.continue}</button>
      </form>
    </Layout>,
  );
}
