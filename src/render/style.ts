// Colour only where a person reads a terminal; NO_COLOR, pipes and cron mail get plain text.
import chalk, { Chalk } from 'chalk';

const useColour = process.stdout.isTTY === true && !('NO_COLOR' in process.env) && process.env.TERM !== 'dumb';
export const paint = useColour ? chalk : new Chalk({ level: 0 });
