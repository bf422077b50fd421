/** Durations are parsed in the core (auth methods and engines need them too); HTTP code keeps importing them here. */
export { formatGoDuration, parseDurationSeconds } from '../core/go-duration.js';
