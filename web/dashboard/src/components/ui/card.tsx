import type { ReactNode } from 'react';

interface CardProps {
  title?: ReactNode;
  actions?: ReactNode;
  children: ReactNode;
  className?: string;
}

export function Card({ title, actions, children, className }: CardProps) {
  return (
    <section className={`card${className ? ` ${className}` : ''}`}>
      {title || actions ? (
        <header className="card__header">
          {title ? <h2 className="card__title">{title}</h2> : <span />}
          {actions ? <div className="card__actions">{actions}</div> : null}
        </header>
      ) : null}
      {children}
    </section>
  );
}

interface StatProps {
  label: string;
  value: ReactNode;
  testId?: string;
  hint?: string;
}

export function Stat({ label, value, testId, hint }: StatProps) {
  return (
    <div className="stat" title={hint}>
      <dt className="stat__label">{label}</dt>
      <dd className="stat__value" data-testid={testId}>
        {value}
      </dd>
    </div>
  );
}
