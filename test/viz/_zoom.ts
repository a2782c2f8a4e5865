import { readFileSync, writeFileSync } from 'node:fs';
import { svgToPng } from '../../src/viz/png.js';
const [file, x, y, w, h, out] = process.argv.slice(2);
let s = readFileSync(file!, 'utf8');
s = s.replace(/<svg([^>]*?) width="\d+" height="\d+" viewBox="[^"]*"/, `<svg$1 width="${+w! * 4}" height="${+h! * 4}" viewBox="${x} ${y} ${w} ${h}"`);
writeFileSync(out!, svgToPng(s));
