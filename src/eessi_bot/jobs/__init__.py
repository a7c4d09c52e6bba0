"""Jobs: preparing and submitting them (`build`), and later following them to their results."""
