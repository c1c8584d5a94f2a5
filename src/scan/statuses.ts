// Kept apart from scan.ts so the command can list the statuses in its help without loading the core.
export type ScanStatus =
  | 'up-to-date'
  | 'patch'
  | 'minor'
  | 'major'
  | 'behind'
  | 'newer'
  | 'pinned-digest'
  | 'unknown'
  | 'skipped'

export const SCAN_STATUSES: readonly ScanStatus[] = [
  'up-to-date',
  'patch',
  'minor',
  'major',
  'behind',
  'newer',
  'pinned-digest',
  'unknown',
  'skipped',
]

/** Thresholds for `--fail-on`: which statuses make a CI run fail. */
export const FAIL_ON: Readonly<Record<string, readonly ScanStatus[]>> = {
  patch: ['patch', 'minor', 'major'],
  minor: ['minor', 'major'],
  major: ['major'],
  any: ['patch', 'minor', 'major', 'behind'],
  unknown: ['unknown'],
}
