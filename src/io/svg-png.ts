// SVG → PNG rasterisation for the CLI (`--out x.png`) and reports. Node-only: uses the prebuilt
// native renderer shipped in the @resvg/resvg-js npm packages.
import { Resvg } from '@resvg/resvg-js';
import type { ResvgRenderOptions } from '@resvg/resvg-js';

export interface SvgToPngOptions {
  /** Output width in px (height follows the aspect ratio). Default: the SVG's own width × `scale`. */
  width?: number;
  /** Zoom factor when `width` is not given (default 1; use 2 for sharp text on high-DPI screens). */
  scale?: number;
  /** Background colour (CSS), e.g. 'white'. Default: what the SVG draws (our SVGs draw white). */
  background?: string;
  /** Family used when none of an element's font families is installed (default 'DejaVu Sans'). */
  defaultFontFamily?: string;
  /** Family for the generic 'monospace' (default 'DejaVu Sans Mono'). */
  monospaceFontFamily?: string;
  /** Extra font files / directories to load besides the system fonts. */
  fontFiles?: string[];
  fontDirs?: string[];
  /** Load the system's fonts (default true; without any font no text is drawn). */
  loadSystemFonts?: boolean;
}

export interface RasterImage {
  width: number;
  height: number;
  /** RGBA bytes, row-major. */
  pixels: Uint8Array;
}

function resvgOptions(options: SvgToPngOptions): ResvgRenderOptions {
  if (options.width !== undefined && !(Number.isFinite(options.width) && options.width >= 1)) {
    throw new Error(`PNG width must be a positive number, got ${options.width}`);
  }
  if (options.scale !== undefined && !(Number.isFinite(options.scale) && options.scale > 0)) {
    throw new Error(`PNG scale must be a positive number, got ${options.scale}`);
  }
  const family = options.defaultFontFamily ?? 'DejaVu Sans';
  return {
    fitTo: options.width !== undefined
      ? { mode: 'width', value: Math.round(options.width) }
      : options.scale !== undefined && options.scale !== 1 ? { mode: 'zoom', value: options.scale } : { mode: 'original' },
    background: options.background,
    font: {
      loadSystemFonts: options.loadSystemFonts ?? true,
      fontFiles: options.fontFiles,
      fontDirs: options.fontDirs,
      defaultFontFamily: family,
      sansSerifFamily: family,
      monospaceFamily: options.monospaceFontFamily ?? 'DejaVu Sans Mono',
    },
    shapeRendering: 2,
    textRendering: 1,
    imageRendering: 1,
    logLevel: 'off',
  };
}

/** Rasterise an SVG document to PNG bytes. */
export function svgToPng(svg: string, options: SvgToPngOptions = {}): Uint8Array {
  const png = new Resvg(svg, resvgOptions(options)).render().asPng();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}

/** Rasterise an SVG document to raw RGBA pixels (for tests and further processing). */
export function svgToRgba(svg: string, options: SvgToPngOptions = {}): RasterImage {
  const img = new Resvg(svg, resvgOptions(options)).render();
  const px = img.pixels;
  return { width: img.width, height: img.height, pixels: new Uint8Array(px.buffer, px.byteOffset, px.byteLength) };
}
