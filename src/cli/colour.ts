/**
 * Colour only on a terminal. citty decides once, when it is loaded, from `NO_COLOR` alone (and consola's
 * helpers read it too), so main.ts imports this module first: when stdout is not a terminal and the user
 * did not ask for colour (`FORCE_COLOR`), it sets `NO_COLOR=1` before either loads.
 */
const forced = Boolean(process.env.FORCE_COLOR) && process.env.FORCE_COLOR !== '0';
if (!process.stdout.isTTY && !forced) process.env.NO_COLOR = '1';
export {};
