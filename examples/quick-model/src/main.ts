import { train } from './train';

const steps = Number(process.argv[2] ?? 300);
const losses = await train(steps);
console.log(`loss: first ${losses[0].toFixed(4)}, last ${losses.at(-1)!.toFixed(4)}`);
