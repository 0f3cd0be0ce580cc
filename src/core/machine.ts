/**
 * Helpers shared by the state machines: a machine is an `as const` transition table (state → event → the
 * transitions it may take, tried in order, each with an optional named guard, as in XState); `can`, `isTerminal`
 * and a diagram are derived from it, never written by hand. The first transition whose guard holds is taken; an
 * unguarded one is the default.
 */

/** One transition of an event: its target state and the name of the guard that must hold, if any. */
export interface TransitionSpec {
  readonly target: string;
  readonly guard?: string;
}

/** A transition table: for each state, the events it accepts and their transitions in the order they are tried. */
export type TransitionTable = Readonly<Record<string, Readonly<Record<string, readonly TransitionSpec[]>>>>;

/** Whether `state` accepts `event` according to `table`. */
export function canTransition(table: TransitionTable, state: string, event: string): boolean {
  return table[state]?.[event] !== undefined;
}

/** The target states `table` lists for `event` in `state` (empty when the state does not accept it). */
export function targetsOf(table: TransitionTable, state: string, event: string): readonly string[] {
  return (table[state]?.[event] ?? []).map((t) => t.target);
}

/**
 * Picks the transition to take: the first whose guard holds (`holds` judges a guard by name). `undefined` when
 * the state does not accept the event or no guard holds.
 */
export function selectTransition(
  table: TransitionTable,
  state: string,
  event: string,
  holds: (guard: string) => boolean,
): TransitionSpec | undefined {
  return table[state]?.[event]?.find((t) => t.guard === undefined || holds(t.guard));
}

/**
 * A state is terminal (for money: nothing more can move) when every event it accepts leads back to it. `sameAs`
 * names machine states that are one stored state (a closed activation is a received one whose number stopped being
 * usable): moving between them moves no money.
 */
export function isTerminalIn(
  table: TransitionTable,
  state: string,
  sameAs: Readonly<Record<string, string>> = {},
): boolean {
  const stored = (s: string) => sameAs[s] ?? s;
  const events = table[state];
  if (events === undefined) return true;
  return Object.values(events).every((ts) => ts.every((t) => stored(t.target) === stored(state)));
}

/** A Mermaid `stateDiagram-v2` rendering of a table; a guarded edge shows its guard in brackets. */
export function diagramOf(table: TransitionTable): string {
  const lines = ["stateDiagram-v2"];
  for (const [from, events] of Object.entries(table)) {
    for (const [event, transitions] of Object.entries(events)) {
      for (const t of transitions) {
        lines.push(`  ${from} --> ${t.target}: ${event}${t.guard === undefined ? "" : ` [${t.guard}]`}`);
      }
    }
  }
  return lines.join("\n");
}
