// `worker etl`: the temporary schema into the MongoDB warehouse.
import { notAvailableYet } from '../../errors.js';
import type { StepOutcome } from '../../state/steps.js';
import type { StepContext } from '../../worker/runtime.js';

export async function etlStep(_context: StepContext): Promise<StepOutcome> {
  throw notAvailableYet('worker etl', 'the warehouse module being written now');
}
