/** A page that only tells something: an expired or refused link, the end of a visit, an error, an OAuth callback's outcome. */
import { Layout, renderDocument } from "./layout";
import type { Language } from "./messages";

export interface NoticeProps {
  language: Language;
  title: string;
  paragraphs: readonly string[];
}

export function renderNotice({ language, title, paragraphs }: NoticeProps): Promise<string> {
  return renderDocument(
    <Layout language={language} title={title}>
      <h1>{title}</h1>
      {paragraphs.map((paragraph) => (
        <p>{paragraph}</p>
      ))}
    </Layout>,
  );
}
