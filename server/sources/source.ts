/** Adapters import their input contract from the store that owns it (DESIGN.md "Habits": fences). */
export type { CheckPatch, Source, SourceEvent, SourceSink } from '../topology/sourceEvents';
