/**
 * The CLI's signal handling: the first SIGTERM/SIGINT (and SIGQUIT for the consumer) aborts the returned
 * signal so the command drains gracefully; a second one exits at once.
 */
export function shutdownSignal(
  signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT'],
  onFirst: (signal: NodeJS.Signals) => void = () => {},
): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const handler = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      process.stderr.write(`outbox: second ${sig}, exiting now\n`);
      process.exit(130);
    }
    onFirst(sig);
    controller.abort(new Error(`received ${sig}`));
  };
  for (const s of signals) process.on(s, handler);
  return { signal: controller.signal, dispose: () => signals.forEach((s) => process.off(s, handler)) };
}
