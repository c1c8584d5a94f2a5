// ValidateImageVector, ValidateCABundle and ValidateComponentImageVectors from gardener/gardener
// pkg/utils/imagevector/imagevector_validation.go, with apimachinery's field.Error rendering and aggregation.
import { X509Certificate } from 'node:crypto'
import { constraintOf } from './find.ts'
import type { CABundle, FieldIssue, ImageSource } from './types.ts'

/** apimachinery renders string values with Go's %q: close to JSON for the characters vectors hold. */
function goQuote(value: unknown): string {
  if (value === null || value === undefined) return 'null'
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value)
  return JSON.stringify(value) ?? String(value)
}

/** field.Error.Error(): `<field>: <type text>[: <value>][: <detail>]`, as apimachinery's ErrorBody builds it. */
export function renderFieldIssue(issue: FieldIssue): string {
  const prefix = issue.field === '' ? '' : `${issue.field}: `
  switch (issue.type) {
    case 'FieldValueRequired':
      return `${prefix}Required value${issue.detail ? `: ${issue.detail}` : ''}`
    case 'FieldValueForbidden':
      return `${prefix}Forbidden${issue.detail ? `: ${issue.detail}` : ''}`
    case 'FieldValueInvalid':
      return `${prefix}Invalid value${issue.hasValue ? `: ${goQuote(issue.value)}` : ''}${issue.detail ? `: ${issue.detail}` : ''}`
    default:
      return `${prefix}${issue.detail}`
  }
}

/** utilerrors.NewAggregate(...).Error(): one message alone, several as `[a, b]`, duplicates dropped. */
export function aggregateMessage(messages: readonly string[]): string {
  const seen = [...new Set(messages)]
  if (seen.length === 1) return seen[0]!
  return `[${seen.join(', ')}]`
}

const required = (field: string, detail: string): FieldIssue => ({
  type: 'FieldValueRequired',
  field,
  detail,
})
const forbidden = (field: string, detail: string): FieldIssue => ({
  type: 'FieldValueForbidden',
  field,
  detail,
})
const invalid = (field: string, value: unknown, detail: string): FieldIssue => ({
  type: 'FieldValueInvalid',
  field,
  value,
  hasValue: true,
  detail,
})

/** validateImageSource, in Gardener's order. `path` is e.g. `images[3]`. */
export function validateImageSource(source: ImageSource, path: string): FieldIssue[] {
  const out: FieldIssue[] = []
  if (source.name === '') out.push(required(`${path}.name`, 'image name is required'))
  if (source.ref === undefined && source.repository === undefined)
    out.push(required(`${path}.ref/repository`, 'either image ref or repository+tag is required'))
  if (source.ref !== undefined) {
    if (source.ref === '') out.push(invalid(`${path}.ref`, source.ref, 'ref must not be empty if specified'))
    if (source.repository !== undefined)
      out.push(forbidden(`${path}.repository`, 'cannot specify repository when ref is set'))
    if (source.tag !== undefined) out.push(forbidden(`${path}.tag`, 'cannot specify tag when ref is set'))
  } else {
    if (source.repository === '')
      out.push(invalid(`${path}.repository`, source.repository, 'repository must not be empty if specified'))
    if (source.tag === '')
      out.push(invalid(`${path}.tag`, source.tag, 'image tag must not be empty if specified'))
  }
  for (const key of ['runtimeVersion', 'targetVersion'] as const) {
    const constraint = source[key]
    if (constraint === undefined) continue
    try {
      constraintOf(constraint)
    } catch (error) {
      out.push(invalid(`${path}.${key}`, constraint, (error as Error).message))
    }
  }
  return out
}

/** ValidateImageVector over `images[i]`. */
export function validateImageVector(images: readonly ImageSource[], root = 'images'): FieldIssue[] {
  return images.flatMap((source, i) => validateImageSource(source, `${root}[${i}]`))
}

/**
 * ValidateCABundle: `inline`, when set, must hold a PEM certificate (the first one is decoded, as Go's
 * pem.Decode + x509.ParseCertificate do) that has not expired.
 */
export function validateCABundle(
  bundle: CABundle | undefined,
  root = 'caBundle',
  now = new Date(),
): FieldIssue[] {
  if (bundle?.inline === undefined) return []
  const field = `${root}.inline`
  // pem.Decode takes the first block, whatever follows; Gardener then wants it to be a CERTIFICATE.
  const first = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/.exec(bundle.inline)
  let cert: X509Certificate
  try {
    if (first?.[1] !== 'CERTIFICATE') throw new Error('the first PEM block is not a certificate')
    cert = new X509Certificate(first[0])
  } catch {
    return [invalid(field, bundle.inline, 'not a valid PEM-encoded certificate')]
  }
  if (now.getTime() > new Date(cert.validTo).getTime())
    return [invalid(field, bundle.inline, 'certificate has expired')]
  return []
}
