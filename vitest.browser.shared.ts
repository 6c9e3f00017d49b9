import { existsSync } from 'node:fs';

/** Debian's Chromium (`apt-get install chromium`; `.ci/run` installs it when missing). */
export const CHROMIUM = process.env.PHALANX_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Playwright launch options for the browser test projects: Debian's Chromium (no browser download),
 * headless, WebGL through ANGLE on SwiftShader (CPU, no GPU needed), WebGPU switched on where the
 * build offers it, and none of Chromium's background connections (this machine's network is closed).
 */
export function chromiumLaunchOptions(): { executablePath: string; args: string[] } {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `browser tests need Chromium at ${CHROMIUM}: run 'apt-get install -y chromium' (or set PHALANX_CHROMIUM)`,
    );
  }
  return {
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--use-angle=swiftshader',
      '--enable-unsafe-swiftshader',
      '--enable-unsafe-webgpu',
      '--enable-features=Vulkan',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      '--no-first-run',
    ],
  };
}
