/**
 * Helpers shared by the state machines: a machine is an `as const` transition table (state → event → next
 * states); `can`, `isTerminal` and a diagram are derived from it, never written by hand.
 */

/** A transition table: for each state, the events it accepts and the states they may lead to. */
export type TransitionTable = Readonly<Record<string, Readonly<Record<string, readonly string[]>>>>;

/** Whether `state` accepts `event` according to `table`. */
export function canTransition(table: TransitionTable, state: string, event: string): boolean {
  return table[state]?.[event] !== undefined;
}

/** A state is terminal when every event it accepts leads back to itself (late codes are recorded, nothing moves). */
export function isTerminalIn(table: TransitionTable, state: string): boolean {
  const events = table[state];
  if (events === undefined) return true;
  return Object.values(events).every((targets) => targets.every((t) => t === state));
}

/** A Mermaid `stateDiagram-v2` rendering of a table. */
export function diagramOf(table: TransitionTable): string {
  const lines = ["stateDiagram-v2"];
  for (const [from, events] of Object.entries(table)) {
    for (const [event, targets] of Object.entries(events)) {
      for (const to of targets) lines.push(`  ${from} --> ${to}: ${event}`);
    }
  }
  return lines.join("\n");
}
