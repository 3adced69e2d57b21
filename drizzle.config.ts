// drizzle-kit config for the library's own migrations (`drizzle/`), not for users' schemas.
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/schema-for-kit.ts',
  out: './drizzle',
});
