import Latest from './latest.ts'

export const COMMANDS = {
  latest: Latest,
}
