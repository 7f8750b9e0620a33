/**
 * What a person is told when a page cannot be shown (a refused or malformed form, a limit, an error), and what the
 * OAuth callback tells a person who lands on it without a return address: what happened, and what to do next.
 */
import type { ProblemError } from "../errors";
import type { Messages } from "./messages";

export interface NoticeText {
  title: string;
  paragraphs: string[];
}

/** A problem met by one of the connect page's requests, for a person. */
export function problemNotice(messages: Messages, problem: ProblemError, requestId: string): NoticeText {
  switch (problem.type) {
    case "forbidden":
      return { title: messages.forbiddenTitle, paragraphs: [messages.forbiddenBody] };
    case "rate-limited":
      return { title: messages.rateLimitedTitle, paragraphs: [messages.rateLimitedBody] };
    default:
      if (problem.status < 500) return { title: messages.badRequestTitle, paragraphs: [messages.badRequestBody] };
      return { title: messages.errorTitle, paragraphs: [messages.errorBody, messages.errorReference(requestId)] };
  }
}

/** How a callback ended, in the terms a person needs. */
export type CallbackView =
  | { kind: "connected"; provider: string; account: string }
  | { kind: "scopes_missing"; provider: string; account: string }
  | { kind: "declined" }
  | { kind: "refused"; provider: string; error: string }
  | { kind: "transient"; provider: string }
  | { kind: "untrusted"; provider: string }
  | { kind: "invalid_state" }
  | { kind: "problem"; problem: ProblemError; requestId: string };

export function callbackNotice(messages: Messages, view: CallbackView): NoticeText {
  switch (view.kind) {
    case "connected":
      return {
        title: messages.callbackConnectedTitle,
        paragraphs: [messages.callbackConnected(view.provider, view.account), messages.closeWindow],
      };
    case "scopes_missing":
      return {
        title: messages.callbackScopesMissingTitle,
        paragraphs: [messages.callbackScopesMissing(view.provider, view.account), messages.closeWindow],
      };
    case "declined":
      return { title: messages.callbackDeclinedTitle, paragraphs: [messages.callbackDeclined, messages.startAgain] };
    case "refused":
      return {
        title: messages.callbackRefusedTitle,
        paragraphs: [messages.callbackRefused(view.provider, view.error), messages.startAgain],
      };
    case "transient":
      return { title: messages.callbackTransientTitle, paragraphs: [messages.callbackTransient(view.provider), messages.startAgain] };
    case "untrusted":
      return { title: messages.callbackUntrustedTitle, paragraphs: [messages.callbackUntrusted(view.provider), messages.startAgain] };
    case "invalid_state":
      return { title: messages.callbackInvalidStateTitle, paragraphs: [messages.callbackInvalidState, messages.startAgain] };
    case "problem":
      return problemNotice(messages, view.problem, view.requestId);
  }
}
