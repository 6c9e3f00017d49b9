import { describe, expect, it } from 'vitest';
import { KeypointEvaluator } from './evaluator';
import { PhalanxConfigError } from '@phalanx/errors';
import { escapeXml, niceTicks, pckCurveToSvg } from './pck-svg';
import { rng } from '../test/hands';

/** Minimal XML well-formedness check: quoted attributes, balanced tags, escaped text. */
function expectWellFormedXml(xml: string): void {
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  let roots = 0;
  const tokens = body.split(/(<[^>]*>)/).filter((t) => t.length > 0);
  for (const token of tokens) {
    if (token.startsWith('<')) {
      const m =
        /^<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"<&]*(?:&(?:amp|lt|gt|quot|apos);[^"<&]*)*")*)\s*(\/?)>$/.exec(
          token,
        );
      expect(m, `malformed tag ${token}`).not.toBeNull();
      const [, closing, name, , selfClosing] = m!;
      if (closing) {
        expect(stack.pop(), `closing </${name}>`).toBe(name);
      } else if (!selfClosing) {
        if (stack.length === 0) roots++;
        stack.push(name);
      } else if (stack.length === 0) {
        roots++;
      }
    } else {
      expect(/[<>]|&(?!(amp|lt|gt|quot|apos);)/.test(token), `unescaped text ${JSON.stringify(token)}`).toBe(false);
      if (stack.length === 0) expect(token.trim()).toBe('');
    }
  }
  expect(stack).toEqual([]);
  expect(roots).toBe(1);
}

function polylinePointCounts(svg: string): number[] {
  return [...svg.matchAll(/<polyline [^>]*points="([^"]*)"/g)].map((m) => m[1].trim().split(/\s+/).length);
}

function measures() {
  const rand = rng(21);
  const gt = Array.from({ length: 30 }, () => Array.from({ length: 21 }, () => [rand(), rand(), rand()]));
  const pred = gt.map((h) => h.map((p) => p.map((v) => v + 0.03 * (rand() - 0.5))));
  return new KeypointEvaluator().feed(gt, pred).measures({ min: 0, max: 0.05, steps: 20 });
}

describe('pckCurveToSvg', () => {
  it('renders measures as well-formed SVG with one point per threshold and the AUC in the legend', () => {
    const m = measures();
    const svg = pckCurveToSvg(m, { title: 'Synthetic <test> & co', thresholdScale: 1000, label: 'Ours' });
    expectWellFormedXml(svg);
    expect(svg).toContain('<svg xmlns="http://www.w3.org/2000/svg"');
    expect(polylinePointCounts(svg)).toEqual([20]);
    expect((svg.match(/<circle /g) ?? []).length).toBe(20);
    expect(svg).toContain(`Ours (AUC=${m.auc.toFixed(3)})`);
    expect(svg).toContain('Synthetic &lt;test&gt; &amp; co');
    expect(svg).toContain('Error threshold (mm)');
    // x tick labels in millimetres.
    expect(svg).toContain('>50</text>');
  });

  it('draws several curves with their own thresholds, computing missing AUCs', () => {
    const svg = pckCurveToSvg(
      {
        thresholds: [20, 30, 40, 50],
        curves: [
          { label: 'A', pck: [0.5, 0.7, 0.9, 1] },
          {
            label: 'B "quoted"',
            pck: [0.3, 0.5, 0.6, 0.7, 0.8, 0.9],
            thresholds: [20, 25, 30, 35, 40, 50],
            auc: 0.61234,
          },
        ],
      },
      { markers: false, xLabel: 'mm', yLabel: '3D PCK', yMin: 0.2 },
    );
    expectWellFormedXml(svg);
    expect(polylinePointCounts(svg)).toEqual([4, 6]);
    expect(svg).not.toContain('<circle');
    expect(svg).toContain('A (AUC=0.783)'); // (0.6 + 0.8 + 0.95) · 10 / 30
    expect(svg).toContain('B &quot;quoted&quot; (AUC=0.612)');
  });

  it('rejects inconsistent input with named errors', () => {
    expect(() => pckCurveToSvg({ thresholds: [0, 1], curves: [{ label: 'x', pck: [1] }] })).toThrow(
      'pckCurveToSvg: curves[0].pck must be as many values as thresholds (2, ≥ 2), but received 1.',
    );
    expect(() => pckCurveToSvg({ thresholds: [0, 1], curves: [] })).toThrow('pckCurveToSvg: input must be');
    expect(() => pckCurveToSvg(measures(), { width: -1 })).toThrow(
      'pckCurveToSvg: width must be a finite number > 0, but received -1.',
    );
  });

  it('helpers: ticks and escaping', () => {
    expect(niceTicks(0, 50)).toEqual([0, 10, 20, 30, 40, 50]);
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0, 0.05)).toEqual([0, 0.01, 0.02, 0.03, 0.04, 0.05]);
    expect(niceTicks(2, 2)).toEqual([2]);
    // A huge target built an array until V8 aborted the process; NaN ends gave [NaN].
    const cases: [() => unknown, string][] = [
      [() => niceTicks(0, 1e300, 1e9), 'niceTicks: target must be an integer in [1, 1000], but received 1000000000.'],
      [() => niceTicks(0, 1, 0), 'niceTicks: target must be an integer ≥ 1, but received 0.'],
      [() => niceTicks(0, 1, 2.5), 'niceTicks: target must be an integer ≥ 1, but received 2.5.'],
      [() => niceTicks(Number.NaN, 1), 'niceTicks: lo must be a finite number, but received NaN.'],
      [() => niceTicks(0, Infinity), 'niceTicks: hi must be a finite number, but received Infinity.'],
    ];
    for (const [f, message] of cases) {
      expect(f, message).toThrow(PhalanxConfigError);
      expect(f).toThrow(message);
    }
    expect(escapeXml(`a<b>&"'`)).toBe('a&lt;b&gt;&amp;&quot;&apos;');
  });
});
