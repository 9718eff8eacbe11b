/**
 * Named impairment presets (`udplab proxy --profile NAME`). One-way figures: a round trip
 * pays the delay twice. They are typical, not measurements of any network; docs/proxy.md
 * says where each number comes from. Options given with a profile override its values.
 */
import type { ImpairmentSpec } from '../impair.js';

/** A preset: impairments of both directions, with per-direction parts where links are asymmetric. */
export interface Profile {
  readonly description: string;
  readonly both: ImpairmentSpec;
  readonly up?: ImpairmentSpec;
  readonly down?: ImpairmentSpec;
}

/** The presets, by name. */
export const PROFILES: Readonly<Record<string, Profile>> = {
  wifi: {
    description: 'a busy home Wi-Fi: a few ms of jitter, 1 % loss',
    both: { delayMs: 3, jitterMs: 2, jitterDistribution: 'normal', loss: 0.01 },
  },
  '4g': {
    description: 'LTE: 50 ms round trip, light loss, 10 Mbit/s up, 30 Mbit/s down',
    both: { delayMs: 25, jitterMs: 8, jitterDistribution: 'normal', loss: 0.005 },
    up: { rateBitsPerSecond: 10e6 },
    down: { rateBitsPerSecond: 30e6 },
  },
  '3g': {
    description: 'HSPA: 150 ms round trip, 1.5 % loss, 768 kbit/s up, 2 Mbit/s down',
    both: { delayMs: 75, jitterMs: 20, jitterDistribution: 'normal', loss: 0.015 },
    up: { rateBitsPerSecond: 768e3 },
    down: { rateBitsPerSecond: 2e6 },
  },
  satellite: {
    description: 'geostationary satellite: 600 ms round trip, 1 Mbit/s up, 10 Mbit/s down',
    both: { delayMs: 300, jitterMs: 10, jitterDistribution: 'uniform', loss: 0.005 },
    up: { rateBitsPerSecond: 1e6 },
    down: { rateBitsPerSecond: 10e6 },
  },
  lossy: {
    description:
      'a bad path: bursty loss (≈ 17 %, bursts of 4), duplicates, reordering, corruption',
    both: {
      lossBurst: { p: 0.05, r: 0.25 },
      delayMs: 10,
      jitterMs: 5,
      duplicate: 0.01,
      reorder: 0.02,
      corrupt: 0.001,
    },
  },
};

/** The names of the presets. */
export const profileNames = (): string[] => Object.keys(PROFILES);
