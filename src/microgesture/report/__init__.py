"""Reports: a self-contained HTML page (``html``) and static plots (``plots``) for one analysed stream."""
