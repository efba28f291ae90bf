// `ganymede archive` with the inbox and the archive behind one S3 endpoint and key (the rig's s3api): see copy-in-store.ts.
import { describeCopyInStore } from './copy-in-store.js';

describeCopyInStore('s3');
