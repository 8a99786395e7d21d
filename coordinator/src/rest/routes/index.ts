import type { App, RouteContext } from './context.js';
import { auditRoutes } from './audit.js';
import { eventRoutes } from './events.js';
import { modelRoutes } from './models.js';
import { privacyRoutes } from './privacy.js';
import { roundRoutes } from './rounds.js';
import { siteRoutes } from './sites.js';
import { studyRoutes } from './studies.js';
import { whoamiRoutes } from './whoami.js';

export type { App, Guard, RouteContext } from './context.js';
export { studyView } from './views.js';

/** Every REST resource, one Fastify plugin each, sharing one {@link RouteContext}. */
export async function registerRoutes(app: App, ctx: RouteContext): Promise<void> {
  for (const plugin of [whoamiRoutes, studyRoutes, roundRoutes, modelRoutes, siteRoutes, privacyRoutes, auditRoutes, eventRoutes]) {
    await app.register(plugin, { ctx });
  }
}
