// `ganymede archive` with the inbox and the archive in one Swift account: see copy-in-store.ts.
import { describeCopyInStore } from './copy-in-store.js';

describeCopyInStore('swift');
