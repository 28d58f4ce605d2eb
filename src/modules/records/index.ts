/**
 * Records: the public face. Signed trace packages (work order, production lot, shipment) with
 * contents from the quality plan, production extracts (CSV / JSON), the site signing key, the
 * background export jobs, and the offline verification of a package. See README.md.
 */
export {
  createRecordsService, TRACE_SCOPES, EXTRACTS, MANIFEST_FORMAT, type RecordsService, type RecordsOptions, type TraceScope, type TraceSection, type ExtractName,
  type PackageTarget, type PackageProgress, type PackageResult, type Job,
} from './service.ts';
export { verifyPackage, MANIFEST, SIGNATURE, PUBLIC_KEY, type VerifyResult, type Manifest, type ManifestFile } from './verify.ts';
export { keyFile, keyIdOf } from './signing.ts';
export { registerRecordsRoutes } from './routes.ts';
