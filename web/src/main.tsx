import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app/App.tsx';
import { prewarmLiveLine } from './modules/dashboard/useLiveLine.ts';
import { SessionProvider } from './session.tsx';
import './styles.css';

// A dashboard page load asks for its live stream before the session check and the first render.
prewarmLiveLine(window.location.pathname);

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <SessionProvider>
      <App />
    </SessionProvider>
  </StrictMode>,
);
