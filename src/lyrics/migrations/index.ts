import { CreateLyricsTables1795783261810 } from './1795783261810-CreateLyricsTables';
import { AddTaskOwners1796083200000 } from './1796083200000-AddTaskOwners';
import { TrackCreateSends1796688000000 } from './1796688000000-TrackCreateSends';
import { AddLyricsEvents1796774400000 } from './1796774400000-AddLyricsEvents';
import { AddDeliveries1796860800000 } from './1796860800000-AddDeliveries';
import { AddCancelled1796947200000 } from './1796947200000-AddCancelled';
import { DropTaskPendingDeliveriesIndex1797033600000 } from './1797033600000-DropTaskPendingDeliveriesIndex';
import { AddWokenReceipts1797120000000 } from './1797120000000-AddWokenReceipts';
import { AddKieAccounts1797206400000 } from './1797206400000-AddKieAccounts';
import { HotDeliveryClaims1797292800000 } from './1797292800000-HotDeliveryClaims';

/** Every migration of the lyrics module, in order, for the app's data source and for host apps. */
export const LYRICS_MIGRATIONS = [
  CreateLyricsTables1795783261810,
  AddTaskOwners1796083200000,
  TrackCreateSends1796688000000,
  AddLyricsEvents1796774400000,
  AddDeliveries1796860800000,
  AddCancelled1796947200000,
  DropTaskPendingDeliveriesIndex1797033600000,
  AddWokenReceipts1797120000000,
  AddKieAccounts1797206400000,
  HotDeliveryClaims1797292800000,
];
