import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** One request the receiver got. */
export interface Received {
  readonly headers: IncomingMessage["headers"];
  readonly body: string;
}

/** A local HTTP receiver on 127.0.0.1 that answers with the statuses queued, then 200. */
export interface Receiver {
  readonly url: string;
  readonly received: Received[];
  /** Statuses of the next answers, in order. */
  answer(...statuses: number[]): void;
  /** Holds every answer until `release` (a sink stuck on a slow receiver). */
  hold(): void;
  release(): void;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const queue: number[] = [];
  let held: (() => void)[] | null = null;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      const reply = () => {
        res.statusCode = queue.shift() ?? 200;
        res.end("ok");
      };
      if (held === null) reply();
      else held.push(reply);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    answer: (...statuses) => queue.push(...statuses),
    hold: () => {
      held = [];
    },
    release: () => {
      const waiting = held ?? [];
      held = null;
      for (const reply of waiting) reply();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
