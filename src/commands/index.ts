import Completion from './completion.ts'
import Latest from './latest.ts'
import Pin from './pin.ts'
import Scan from './scan.ts'
import Vector from './vector.ts'

export const COMMANDS = {
  completion: Completion,
  latest: Latest,
  pin: Pin,
  scan: Scan,
  vector: Vector,
}
