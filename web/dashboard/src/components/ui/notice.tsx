import type { ReactNode } from 'react';

interface NoticeProps {
  kind?: 'info' | 'warning' | 'error';
  title?: string;
  children?: ReactNode;
  onDismiss?: () => void;
  testId?: string;
}

/** An inline notice inside a view (errors use role="alert", others role="status"). */
export function Notice({ kind = 'info', title, children, onDismiss, testId }: NoticeProps) {
  return (
    <div
      className={`notice notice--${kind}`}
      role={kind === 'error' || kind === 'warning' ? 'alert' : 'status'}
      data-testid={testId}
    >
      <div className="notice__body">
        {title ? <strong>{title}</strong> : null}
        {children ? <div>{children}</div> : null}
      </div>
      {onDismiss ? (
        <button type="button" className="icon-button" aria-label="Dismiss" onClick={onDismiss}>
          ×
        </button>
      ) : null}
    </div>
  );
}
