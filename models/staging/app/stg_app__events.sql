{{ tessera.stage_segment_events(source('app', 'app_events')) }}
