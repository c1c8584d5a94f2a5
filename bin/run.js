#!/usr/bin/env node
// Development entry: runs the TypeScript sources directly (Node 24 type stripping).
import { main } from '../src/main.ts'

await main()
