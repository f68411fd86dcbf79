"""Protocol-level stand-ins for real devices (test doubles that speak the device's wire
protocol): a Feetech servo bus on a pseudo-terminal, a rosbridge server that behaves like
Interbotix xs_sdk, a SERL-style HTTP robot server. None of them is a physics simulation;
each moves joints toward their goals at a fixed speed so drivers see realistic motion."""
