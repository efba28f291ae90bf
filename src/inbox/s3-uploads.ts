// Pre-signed uploads into an s3:// inbox: one pre-signed PUT of the delivery's key, up to S3's 5 GiB for
// a single PUT. Larger files are refused before anything is signed: a pre-signed multipart upload needs
// the API to start it (CreateMultipartUpload) and finish it, which this does not do yet; a GEO with larger
// hours uses a swift:// inbox (segments) or its own credentials (agent.inbox s3://…, multipart).
import { refusedError } from '../errors.js';
import { describeS3, maxPartBytes, type S3Location } from '../transport/s3-config.js';
import { presignS3Url } from '../transport/s3-presign.js';
import type { S3Transport } from '../transport/s3.js';
import type { InboxUploads, UploadedFile } from './uploads.js';
import type { UploadPlan } from './upload-plan.js';

export interface S3UploadSettings {
  accessKeyId: string;
  secret: string;
  ttlMs: number;
}

export class S3InboxUploads implements InboxUploads {
  // S3's limit for one PUT (and Swift's s3api's).
  readonly maxBytes = maxPartBytes;
  readonly unavailable = undefined;

  constructor(
    private readonly location: S3Location,
    private readonly transport: S3Transport,
    private readonly settings: S3UploadSettings,
  ) {}

  async plan(objectName: string, file: UploadedFile): Promise<UploadPlan> {
    await this.transport.ensureBucket();
    const expiresSeconds = Math.floor(this.settings.ttlMs / 1000);
    const now = new Date();
    const url = presignS3Url({
      location: this.location,
      accessKeyId: this.settings.accessKeyId,
      secret: this.settings.secret,
      method: 'PUT',
      key: this.location.prefix ? `${this.location.prefix}/${objectName}` : objectName,
      expiresSeconds,
      now,
    });
    return {
      target: `${describeS3(this.location)}/${objectName}`,
      expiresAt: new Date(now.getTime() + expiresSeconds * 1000).toISOString(),
      checksumHeader: 'content-md5',
      parts: [{ url, size: file.size }],
    };
  }

  async complete(objectName: string, file: UploadedFile): Promise<void> {
    const stored = await this.transport.stat(objectName);
    if (!stored) throw refusedError(`${describeS3(this.location)}: there is no ${objectName}: it was not uploaded`, 'upload it through the URL the API handed out, then complete');
    if (stored.size !== file.size) throw refusedError(`${describeS3(this.location)}: ${objectName} holds ${stored.size} bytes, not the ${file.size} announced`, 'upload it again');
  }
}
