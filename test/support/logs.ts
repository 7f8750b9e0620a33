/**
 * What the code under test logs, captured instead of printed. The service logs every failure it meets as one JSON
 * line (production reads them with `wrangler tail`); a test that provokes a failure on purpose captures the line and
 * asserts it, so a passing run prints nothing a reader would take for a problem, and a line nobody asked for still
 * shows. Works for code in the Worker, its Durable Objects and its queue consumers alike: in the Vitest pool they all
 * run in the test's isolate.
 */
import { onTestFinished, vi } from "vitest";

export type LogLevel = "log" | "warn" | "error";

export interface CapturedLogs {
  /** Every line logged since the capture began, each parsed as the JSON object the service writes. */
  lines(): Array<Record<string, unknown>>;
  /** The `message` of every line, in order. */
  messages(): string[];
}

/** Captures `console[level]` until the current test finishes. */
export function captureLogs(level: LogLevel): CapturedLogs {
  const spy = vi.spyOn(console, level).mockImplementation(() => undefined);
  onTestFinished(() => spy.mockRestore());
  return logsOf(spy);
}

/** Reads the lines an existing spy on `console.log`, `warn` or `error` received. */
export function logsOf(spy: { mock: { calls: unknown[][] } }): CapturedLogs {
  const lines = () => spy.mock.calls.map(([line]) => JSON.parse(String(line)) as Record<string, unknown>);
  return { lines, messages: () => lines().map((line) => String(line.message)) };
}
