// Compiled (never run) against the types openapi-typescript generates from
// docs/openapi.yaml: a spec change that breaks a generator, or renames what a
// case system's code relies on, fails the build here.
import type { components, operations, paths } from './generated/openapi';

type Report = components['schemas']['Report'];
type VerificationRequest = components['schemas']['VerificationRequest'];
type ErrorBody = components['schemas']['Error'];

export const request: VerificationRequest = {
  case_id: 'HRB-DEMO-0001',
  programme: 'dibao',
  jurisdiction: '230100',
  area: 'urban',
  reference_date: '2024-11-01',
  authorization_id: 'a-1',
  members: [{ id_number: '230102197503120016', name: '张伟', relation: 'applicant' }],
  async: true,
};

export function outcomeOf(report: Report): 'eligible' | 'ineligible' | 'indeterminate' {
  return report.outcome;
}

export function signedBytesPrefix(report: Report): string {
  return `${report.signature.format}\n`;
}

export function isRetryable(error: ErrorBody): boolean {
  return error.error === 'rate_limited' || error.error === 'overloaded' || error.error === 'audit_unavailable';
}

type Accepted = paths['/v1/verifications']['post']['responses'][202]['content']['application/json'];
export const running: Accepted = { verification_id: 'v-1', status: 'running' };

type KeyAnswer = operations['getReportSigningKey']['responses'][200]['content']['application/json'];
export const keyId = (k: KeyAnswer): string => k.key_id;
