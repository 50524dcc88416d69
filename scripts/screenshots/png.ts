// SVG → PNG with resvg (a devDependency). Where it cannot be loaded (a platform it has no build
// for), the script still writes the SVGs and says that the PNGs were skipped.

import { existsSync } from 'node:fs';

/** The monospace font the PNGs are drawn with when it is installed (Debian: fonts-dejavu-core). */
const FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf';

let resvg: typeof import('@resvg/resvg-js') | null | undefined;
let unavailable = '';

/** Why PNGs are not written, or null when they are. */
export async function pngUnavailable(): Promise<string | null> {
  if (resvg === undefined) {
    try {
      resvg = await import('@resvg/resvg-js');
    } catch (err) {
      resvg = null;
      unavailable = `@resvg/resvg-js could not be loaded (${(err as Error).message.split('\n')[0]})`;
    }
  }
  return resvg ? null : unavailable;
}

/** The SVG drawn as a PNG at its own size, or null without resvg. */
export async function toPng(svg: string): Promise<Buffer | null> {
  if ((await pngUnavailable()) !== null || !resvg) return null;
  const r = new resvg.Resvg(svg, {
    fitTo: { mode: 'zoom', value: 1 },
    font: {
      loadSystemFonts: !existsSync(FONT),
      fontFiles: existsSync(FONT) ? [FONT] : [],
      defaultFontFamily: 'DejaVu Sans Mono',
      monospaceFamily: 'DejaVu Sans Mono',
    },
  });
  return r.render().asPng();
}
