export { createAuthService, type AuthService, type User, type ApiToken, LOGIN_MAX_FAILURES } from './service.ts';
export { registerAuthRoutes } from './routes.ts';
export { hashPassword, verifyPassword } from './passwords.ts';
