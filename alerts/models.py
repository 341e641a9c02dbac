"""The alerts app keeps no models of its own: violations are the result of evaluation and live in
spc.models with the plant's reason codes; alerts owns acknowledgment, notification and live
delivery of them."""
