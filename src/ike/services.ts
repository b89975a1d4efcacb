// What an IKE SA and its tasks may use of the engine. The types are declared in ike-sa.ts, next to
// the IKE SA they name (so that the SA, its task manager and these types form no import circle);
// the engine and its users import them from here.
export type { EngineEvent, EngineServices, ResolvedEngineOptions } from './ike-sa.ts';
