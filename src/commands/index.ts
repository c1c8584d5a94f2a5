import Latest from './latest.ts'
import Scan from './scan.ts'

export const COMMANDS = {
  latest: Latest,
  scan: Scan,
}
