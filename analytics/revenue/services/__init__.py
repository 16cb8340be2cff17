"""Every write of revenue data: Stripe events (stripe.py), CSV imports (imports.py), the subscription state both
apply (subscriptions.py), and the operator's edits from the admin (operator.py)."""
