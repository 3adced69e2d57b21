/**
 * What `/readyz` reports: each relay or consumer in the process says whether its broker connection is up
 * (and, for the relay, whether the broker confirms publishes). Process-wide, because readiness is the
 * process's: ready while every part registered is.
 */

export interface HealthPart {
  /** Counts from now on, not ready until the first `set(null)`: called as its relay or consumer starts running. */
  start(): void;
  /** `null`: fine; otherwise why not, in one line. Ignored unless started. */
  set(problem: string | null): void;
  /** The part is gone (its relay or consumer stopped). */
  dispose(): void;
}

const parts = new Map<object, { name: string; problem: string | null }>();

/** A part of the process's readiness; nothing until `start()`, so a relay made but never run is no part. */
export function healthPart(name: string, initially = 'not connected to the broker yet'): HealthPart {
  const key = {};
  return {
    start: () => void parts.set(key, { name, problem: initially }),
    set(problem) {
      const part = parts.get(key);
      if (part) part.problem = problem;
    },
    dispose: () => void parts.delete(key),
  };
}

/** The first problem of any registered part (`<name>: <problem>`), or null when every part is fine. */
export function healthProblem(): string | null {
  for (const { name, problem } of parts.values()) if (problem) return `${name}: ${problem}`;
  return null;
}
