/**
 * The integrated-gradients path of one prediction: the target logit f(α·e) for α on a
 * logarithmic grid from 0 to 1 (e = the token embeddings, target = the top next token at the
 * last position). It shows where f changes along the path, i.e. why IG's completeness error is
 * what it is (src/explain/methods/integrated-gradients.ts):
 *
 *   npx tsx scripts/ig-path.ts CHECKPOINT_DIR "some text" [--dtype float64]
 */
import * as F from '../src/core/index.js';
import { Tensor } from '../src/core/index.js';
import { loadModel } from '../src/io/load-model.js';
import { loadTokenizer } from '../src/io/tokenizer.js';

const [dir, text, flag, value] = process.argv.slice(2);
if (dir === undefined || text === undefined || (flag !== undefined && (flag !== '--dtype' || (value !== 'float32' && value !== 'float64')))) {
  process.stderr.write('usage: npx tsx scripts/ig-path.ts CHECKPOINT_DIR "text" [--dtype float32|float64]\n');
  process.exit(1);
}
const { model, tokenizerPath } = loadModel(dir, { dtype: value === 'float64' ? 'float64' : 'float32' });
if (tokenizerPath === null) {
  process.stderr.write(`${dir} has no tokenizer.json\n`);
  process.exit(1);
}
const ids = Int32Array.from(loadTokenizer(tokenizerPath).encode(text));
const L = ids.length;
const e = F.noGrad(() => model.embed(ids, 1, L));
const logitsAt = (alpha: number) => F.noGrad(() => model.forwardAt(new Tensor(e.data.map((x) => alpha * x), e.shape), [L - 1])).data;
const full = logitsAt(1);
const target = full.indexOf(Math.max(...full));
process.stdout.write(`target: token ${target} at position ${L - 1} (${L} tokens)\nalpha\tf(alpha·e)\n`);
for (const alpha of [0, ...Array.from({ length: 16 }, (_, i) => 10 ** (i - 15))]) process.stdout.write(`${alpha === 0 ? '0' : alpha.toExponential(0)}\t${logitsAt(alpha)[target].toFixed(4)}\n`);
