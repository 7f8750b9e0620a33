/** A queue binding that keeps what is sent to it, for tests that look at an invocation's messages themselves. */
export interface RecordingQueue {
  queue: Queue;
  /** The bodies sent, in order, one per message. */
  sent: unknown[];
}

export function recordingQueue(): RecordingQueue {
  const sent: unknown[] = [];
  const accepted = { metadata: { metrics: { backlogCount: 0, backlogBytes: 0 } } };
  const queue: Queue = {
    metrics: async () => accepted.metadata.metrics,
    send: async (body) => {
      sent.push(structuredClone(body));
      return accepted;
    },
    sendBatch: async (messages) => {
      for (const message of messages) sent.push(structuredClone(message.body));
      return accepted;
    },
  };
  return { queue, sent };
}
