export * from './reference.ts'
