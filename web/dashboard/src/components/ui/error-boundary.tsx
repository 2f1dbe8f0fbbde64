import { Component, type ErrorInfo, type ReactNode } from 'react';

interface Props {
  /** Names the area in the fallback ("The Train view failed"). */
  name: string;
  children: ReactNode;
}

interface State {
  error: Error | null;
}

/** Catches a render error of one feature so the rest of the dashboard keeps working. */
export class ErrorBoundary extends Component<Props, State> {
  override state: State = { error: null };

  static getDerivedStateFromError(error: Error): State {
    return { error };
  }

  override componentDidCatch(error: Error, info: ErrorInfo): void {
    console.error(`[${this.props.name}]`, error, info.componentStack);
  }

  private readonly reset = () => this.setState({ error: null });

  override render(): ReactNode {
    const { error } = this.state;
    if (!error) return this.props.children;
    return (
      <div className="notice notice--error" role="alert">
        <div>
          <strong>The {this.props.name} view failed.</strong>
          <p className="muted">{error.message}</p>
        </div>
        <button type="button" className="button" onClick={this.reset}>
          Try again
        </button>
      </div>
    );
  }
}
