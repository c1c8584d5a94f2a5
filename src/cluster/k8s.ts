// The only module that imports @kubernetes/client-node at run time. Callers `await import('./k8s.ts')` inside
// functions so `--help` never loads client-node, and a bundler keeps only these classes (see packaging.md §1).
export {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  KubeConfig,
  ResponseContext,
  VersionApi,
  wrapHttpLibrary,
} from '@kubernetes/client-node'
// The transport of read.ts (client-node itself depends on the same undici).
export { request as undiciRequest } from 'undici'
